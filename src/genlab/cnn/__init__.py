"""CNN tools: convolution arithmetic and layer-by-layer network summaries."""
from genlab.cnn.arithmetic import (
    LayerParameters,
    ReceptiveField,
    conv_multiply_adds,
    conv_output_size,
    conv_parameters,
    conv_transpose_output_size,
    parse_layer,
    parse_matrix,
    pool2d,
    pool_output_size,
    receptive_field,
    stack_parameters,
)
from genlab.cnn.summary import LayerRow, format_summary, summarize

__all__ = ["LayerParameters", "LayerRow", "ReceptiveField", "conv_multiply_adds", "conv_output_size", "conv_parameters",
           "conv_transpose_output_size", "format_summary", "parse_layer", "parse_matrix", "pool2d", "pool_output_size",
           "receptive_field", "stack_parameters", "summarize"]
