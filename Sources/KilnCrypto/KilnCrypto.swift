// KilnCrypto — see docs in this folder. This file marks the module; real code lives beside it.
