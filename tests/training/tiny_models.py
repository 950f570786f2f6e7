"""Tiny Keras models for the unit tests of the training package: built in milliseconds, on any backend."""

import keras


def tiny_model(learning_rate=0.01) -> keras.Model:
    """Four inputs, two classes, compiled with plain SGD at `learning_rate`."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(learning_rate), "categorical_crossentropy")
    return model


def tiny_image_model() -> keras.Model:
    """2x3 one-channel images to two classes; not compiled (enough to predict)."""
    inputs = keras.Input((2, 3, 1))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
