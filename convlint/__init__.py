"""convlint: finds and fixes whole-model channels_last conversions in PyTorch code.

Importing the package is cheap: nothing here imports libcst or torch.
"""

__version__ = "0.1.0"
