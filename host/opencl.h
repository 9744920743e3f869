/* The one place that includes the OpenCL headers, so that every file agrees
 * on the API version the library targets. */
#ifndef CLNET_OPENCL_H
#define CLNET_OPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

/* "CL_OUT_OF_RESOURCES" for -5, etc.; "unknown OpenCL error" otherwise. */
const char *clnet_cl_error_name(cl_int err);

#endif
