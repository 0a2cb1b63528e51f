"""Media values for `log()`: Image, Video, Audio, Object3D, Html, Histogram, figures, and the
store that writes their files into a run's folder."""
