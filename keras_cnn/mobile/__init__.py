"""From a trained model to a phone or a microcontroller: the Keras 3 <-> tf_keras bridge
(`bridge`), magnitude pruning (`pruning`) and quantization-aware training (`quantization`) with
tensorflow-model-optimization, TFLite and ONNX export and comparison (`export`), microcontroller
numbers (`deploy`), and the whole pipeline on the embedded digits (`pipeline`, the one entry
point of `keras-cnn demo`, tflite/ and benchmarks/mobile_targets.py):

    from keras_cnn.mobile import pipeline
    results = pipeline.run("mobilenet_v2", "runs/mobilenet_v2_mobile")

This file imports nothing: `import keras_cnn` loads the bridge, not the converters or tfmot.
"""
