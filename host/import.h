/* Importers of other frameworks' files, and the architectures that
 * weights-only files are loaded into. clnet_model_load() (model_load.c)
 * picks the importer from a file's first bytes. */
#ifndef CLNET_IMPORT_H
#define CLNET_IMPORT_H

#include "error.h"

/* An ONNX model (import_onnx.c). */
clnet_status clnet_import_onnx(const char *path, clnet_graph **out);

/* A Keras HDF5 file (import_keras.c): a whole model rebuilt from its
 * model_config when arch is NULL, else weights only, loaded into the
 * built-in architecture `arch` by layer order. */
clnet_status clnet_import_hdf5(const char *path, const char *arch, clnet_graph **out);

/* A PyTorch state dict saved by torch.save (import_torch.c), loaded into
 * the built-in architecture `arch` by parameter name. */
clnet_status clnet_import_torch(const char *path, const char *arch, clnet_graph **out);

/* The CIFAR ResNets of the PyTorch world (models_torch.c): depth 6n+2,
 * basic blocks, shortcut option A (strided subsampling and zero channels)
 * or option B (1x1 conv and BN), layer names as in the state dicts
 * ("conv1", "layer2.0.bn1", ...). */
clnet_status clnet_model_torch_resnet(int depth, int option_b, int num_classes,
                                      clnet_graph **out);

/* The Keras 1 DenseNet "fast" variant (models_keras1.c): no bottlenecks,
 * no BN inside dense blocks; see the README of the shared weights. */
clnet_status clnet_model_densenet_fast(int depth, int growth_rate, int num_classes,
                                       clnet_graph **out);

#endif
