"""What every model builder needs: which Keras to build with (`backend`), the weight sets and
their loading (`weights`), the builder contract (`applications`), the registry of models
(`registry`) and ImageNet's preprocessing and class names (`imagenet`).

The bottom of the package: these modules import no other keras_cnn sub-package.
"""
