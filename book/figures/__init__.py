"""Figures of the book, drawn with matplotlib when the pages are built.

``diagrams`` holds the schematic drawings (unrolled RNN, BPTT, sequence types, ...) and the
shared style; the plots of computed results are drawn in the chapters next to the code that
computes them.
"""
