"""Training: tf.data pipelines (`data`), the papers' augmentations (`augment`), schedules and
optimizers (`schedules`), run folders (`runs`), strategies and the fit loop (`training`), the
papers' recipes (`recipes`), transfer learning (`heads`, `transfer`) and evaluating a trained
model file (`evaluation`).

    from keras_cnn.train import recipes
    recipes.run("lenet5_digits")

Nothing here is imported by `import keras_cnn` except `schedules` (registered for loading
.keras files) and `heads` (for the tf_keras bridge).
"""
