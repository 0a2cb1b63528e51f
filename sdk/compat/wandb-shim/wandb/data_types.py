"""wandb.data_types: runlake's media and table classes."""

from runlake.media.audio import Audio
from runlake.media.figures import Plotly
from runlake.media.histogram import Histogram
from runlake.media.html import Html
from runlake.media.image import Image
from runlake.media.object3d import Object3D
from runlake.media.video import Video
from runlake.tables.table import Table

__all__ = ["Audio", "Histogram", "Html", "Image", "Object3D", "Plotly", "Table", "Video"]
