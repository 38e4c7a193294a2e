"""ganforge: train, evaluate and serve generative adversarial networks on your own data."""

__version__ = "0.1.0"

from .api import ImageGAN, load  # noqa: E402
from .errors import GanforgeError  # noqa: E402
from .export import OnnxGenerator, export_onnx  # noqa: E402
from .tabular import TableGAN  # noqa: E402

__all__ = ["ImageGAN", "TableGAN", "load", "GanforgeError", "export_onnx", "OnnxGenerator", "__version__"]
