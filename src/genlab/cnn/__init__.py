"""CNN tools: convolution arithmetic and layer-by-layer network summaries."""
from genlab.cnn.arithmetic import (ReceptiveField, conv_multiply_adds, conv_output_size, conv_parameters,
                                   conv_transpose_output_size, pool_output_size, receptive_field)
from genlab.cnn.summary import LayerRow, format_summary, summarize

__all__ = ["LayerRow", "ReceptiveField", "conv_multiply_adds", "conv_output_size", "conv_parameters",
           "conv_transpose_output_size", "format_summary", "pool_output_size", "receptive_field", "summarize"]
