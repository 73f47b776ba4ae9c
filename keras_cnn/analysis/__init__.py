"""Looking at models without training them: the per-layer profile (`profile`: activations,
parameters, MACs, receptive field; `keras_cnn.profile`), the papers' ImageNet accuracy with its
sources (`accuracy`), and the zoo table and chart built from both (`zoo`).
"""
