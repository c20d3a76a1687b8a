"""Course-style models built on the layers of examples/layers/layers.py (see fc_net.py, cnn.py).

    deltacheck model examples/models/fc_net.py:FullyConnectedNet
    deltacheck model examples/models/cnn.py:ThreeLayerConvNet
"""
