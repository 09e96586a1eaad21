"""Reference implementations of the vanilla RNN: the grader's oracles.

* :mod:`autograder.reference.numpy_rnn` computes everything from scratch in NumPy;
* :mod:`autograder.reference.torch_rnn` computes the same quantities with PyTorch and autograd,
  and holds the small ``nn.Module`` models used by the exercises and the book;
* :mod:`autograder.reference.char_data` loads the shipped text and maps characters to indices.

The two references take and return NumPy arrays with the same shapes, order and dtype, so that
they can be compared directly. PyTorch is imported only by ``torch_rnn``.
"""
