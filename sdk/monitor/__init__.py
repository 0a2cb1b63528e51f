"""What a run samples beside `log()`: system metrics (CPU, memory, disk, network, GPUs) and the
console."""
