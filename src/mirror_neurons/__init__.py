"""mirror-neurons: do neural networks that must cooperate grow mirror neurons?

A research instrument reproducing and extending "Mirror-Neuron Patterns in AI
Alignment" (arXiv 2511.01885). The pipeline reads top to bottom through the
sub-packages: ``game`` -> ``data`` -> ``train`` -> ``analysis`` -> ``report``.
"""

__version__ = "0.1.0"
