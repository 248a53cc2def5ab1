from keras.applications import EfficientNetB0
from keras.layers import BatchNormalization as BN, Dense, GlobalAveragePooling2D
from keras.models import Sequential
from keras.optimizers import SGD

x = y = None
layer = "a name the fix must not reuse"

base = EfficientNetB0(weights=None, include_top=False)
base.trainable = False
model = Sequential([base, GlobalAveragePooling2D(), Dense(1)])
opt = SGD(0.01, momentum=0.9)
model.compile(
    optimizer=opt,  # the same object below
    loss="mse",
)
model.fit(x, y)
if True:
    base.trainable = True  # unfreeze
    opt.learning_rate = 1e-4
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y)
