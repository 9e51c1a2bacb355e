"""SGD, momentum, Adam and feedback alignment beside BLUR on the same draws; studies."""
