"""The lecture's claims about backpropagation, each shown by measurement."""
