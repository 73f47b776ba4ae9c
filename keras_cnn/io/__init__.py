"""The files keras_cnn writes and reads: atomic writes and marked markdown sections (`files`),
the sidecar JSON of a model file and recognizing model files (`artifacts`), .keras files with
their sidecar (`saving`), running .tflite and .onnx files on their runtimes (`runtimes`), and
keeping native libraries' chatter off the console (`quiet`).

These modules import only from `keras_cnn.core`.
"""
