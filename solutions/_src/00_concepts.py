# Source of solutions/00_concepts/concepts.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 0: concept checks
#
# Companion chapters: [What is an RNN](../../book/chapters/01_what_is_an_rnn.ipynb),
# [Why RNNs when we have CNNs](../../book/chapters/02_why_rnns.ipynb),
# [Types of RNN](../../book/chapters/06_rnn_types.ipynb) and
# [CNNs and RNNs compared](../../book/chapters/07_cnn_vs_rnn.ipynb).
#
# **After this exercise you can**
#
# - say which problems recurrent networks are made for, and which they are not;
# - explain what an RNN's hidden state adds to a feed-forward network or a CNN;
# - contrast CNNs and RNNs, and say what they have in common;
# - recognise the shape of a sequence task: one to many, many to one, many to many (aligned),
#   or encoder–decoder.
#
# **How to work.** Each question has one best answer. Write it in the cell below the question
# as a capital letter in quotes, for example `answer_q1 = "A"`, and run the test cell after it:
# it checks that your answer is one of the allowed letters. Whether it is *right* is checked
# when your notebook is graded.

# %% [code] tags=hide-input
# Course setup: make the course package `autograder` importable. In a checkout of the
# repository it is imported from there; on Colab, or any machine without it, it is first
# installed with pip from https://github.com/open-rnn-course/rnn-course
# Where it already imports, this cell changes nothing.
import importlib.util
import subprocess
import sys
from pathlib import Path

for _root in (Path.cwd(), *Path.cwd().parents):
    if (_root / "autograder" / "__init__.py").is_file():
        for _path in (str(_root / "book"), str(_root)):
            if _path not in sys.path:
                sys.path.insert(0, _path)
        break
if importlib.util.find_spec("autograder") is None:
    _spec = "rnn-course @ git+https://github.com/open-rnn-course/rnn-course@main"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _spec], check=True)

# %% [setup] id=setup_imports
from autograder.notebook_checks import check_choice

# %% [markdown]
# ## Question 1: what RNNs are for
#
# Which of these tasks is the **least** natural fit for a recurrent network?
#
# - **A.** Turning recorded speech into text.
# - **B.** Translating a sentence from English into French.
# - **C.** Deciding whether a single photograph shows a cat or a dog.
# - **D.** Deciding whether a product review is positive or negative.

# %% [answer] id=answer_q1
# Set answer_q1 to the letter of your choice, for example answer_q1 = "A".
### BEGIN SOLUTION
answer_q1 = "C"
### END SOLUTION

# %% [test] id=test_answer_q1 points=1
check_choice("answer_q1", globals().get("answer_q1"))
### BEGIN HIDDEN TESTS
assert answer_q1 == "C", "answer_q1: which input is not a sequence? See 'What is an RNN'."
### END HIDDEN TESTS
print("✓ answer_q1 is one of A, B, C, D")

# %% [markdown]
# ## Question 2: why not a feed-forward network?
#
# A network reads a sentence one word at a time and must fill in the blank of "I grew up in
# France, so my mother tongue is ___". Why does an ordinary feed-forward network (or a CNN) that
# sees only the current word fail at this?
#
# - **A.** It has too few parameters to store a vocabulary.
# - **B.** Its output depends only on its current input: nothing from the earlier words is kept.
# - **C.** It cannot take words as input at all.
# - **D.** It cannot be trained with backpropagation.

# %% [answer] id=answer_q2
# Set answer_q2 to the letter of your choice.
### BEGIN SOLUTION
answer_q2 = "B"
### END SOLUTION

# %% [test] id=test_answer_q2 points=1
check_choice("answer_q2", globals().get("answer_q2"))
### BEGIN HIDDEN TESTS
assert answer_q2 == "B", "answer_q2: what does the network remember? See 'Why RNNs'."
### END HIDDEN TESTS
print("✓ answer_q2 is one of A, B, C, D")

# %% [markdown]
# ## Question 3: where the memory lives
#
# In $H_t = \phi(X_t W_{xh} + H_{t-1} W_{hh} + b_h)$, which quantity brings information from
# the earlier steps of the sequence into step $t$?
#
# - **A.** $W_{xh}$
# - **B.** $b_h$
# - **C.** $H_{t-1}$
# - **D.** $X_t$

# %% [answer] id=answer_q3
# Set answer_q3 to the letter of your choice.
### BEGIN SOLUTION
answer_q3 = "C"
### END SOLUTION

# %% [test] id=test_answer_q3 points=1
check_choice("answer_q3", globals().get("answer_q3"))
### BEGIN HIDDEN TESTS
assert answer_q3 == "C", "answer_q3: which term changes with the history? See 'What is an RNN'."
### END HIDDEN TESTS
print("✓ answer_q3 is one of A, B, C, D")

# %% [markdown]
# ## Question 4: one set of weights
#
# An RNN reads a sequence of 50 steps, then one of 500 steps. How many different sets of cell
# weights $(W_{xh}, W_{hh}, b_h)$ does it use?
#
# - **A.** One per time step: 50 for the first sequence, 500 for the second.
# - **B.** One, shared by every step of both sequences.
# - **C.** One per sequence length: two.
# - **D.** None: an RNN cannot read sequences of different lengths.

# %% [answer] id=answer_q4
# Set answer_q4 to the letter of your choice.
### BEGIN SOLUTION
answer_q4 = "B"
### END SOLUTION

# %% [test] id=test_answer_q4 points=1
check_choice("answer_q4", globals().get("answer_q4"))
### BEGIN HIDDEN TESTS
assert answer_q4 == "B", "answer_q4: are the weights indexed by t? See 'What is an RNN'."
### END HIDDEN TESTS
print("✓ answer_q4 is one of A, B, C, D")

# %% [markdown]
# ## Question 5: CNNs and RNNs, the difference
#
# Which statement contrasts them correctly?
#
# - **A.** A CNN extends across *space*, sliding the same filter over positions of its input; an
#   RNN extends across *time*, carrying a state from each step to the next.
# - **B.** An RNN cannot be trained by gradient descent; a CNN can.
# - **C.** A CNN remembers its previous inputs; an RNN treats every input independently.
# - **D.** There is no difference: an RNN is a CNN with a kernel of width one.

# %% [answer] id=answer_q5
# Set answer_q5 to the letter of your choice.
### BEGIN SOLUTION
answer_q5 = "A"
### END SOLUTION

# %% [test] id=test_answer_q5 points=1
check_choice("answer_q5", globals().get("answer_q5"))
### BEGIN HIDDEN TESTS
assert answer_q5 == "A", "answer_q5: see 'CNNs and RNNs compared'."
### END HIDDEN TESTS
print("✓ answer_q5 is one of A, B, C, D")

# %% [markdown]
# ## Question 6: CNNs and RNNs, what they share
#
# Which statement is true of **both** CNNs and RNNs?
#
# - **A.** They compute their outputs in a forward pass and learn by propagating gradients of a
#   loss backwards to update their parameters.
# - **B.** They need inputs of one fixed size.
# - **C.** They carry a hidden state from one input to the next.
# - **D.** They only work on images.

# %% [answer] id=answer_q6
# Set answer_q6 to the letter of your choice.
### BEGIN SOLUTION
answer_q6 = "A"
### END SOLUTION

# %% [test] id=test_answer_q6 points=1
check_choice("answer_q6", globals().get("answer_q6"))
### BEGIN HIDDEN TESTS
assert answer_q6 == "A", "answer_q6: see 'CNNs and RNNs compared'."
### END HIDDEN TESTS
print("✓ answer_q6 is one of A, B, C, D")

# %% [markdown]
# ## Questions 7 to 10: the shape of a task
#
# For each task, choose its shape:
#
# - **A.** one to many: one input, a sequence out;
# - **B.** many to one: a sequence in, one output;
# - **C.** many to many, aligned: one output for every input step;
# - **D.** encoder–decoder: a sequence in, a sequence of a *different* length out.
#
# **Question 7.** Named-entity recognition: label every word of a sentence as a person, a place,
# an organisation or none of these.

# %% [answer] id=answer_q7
# Set answer_q7 to the letter of your choice.
### BEGIN SOLUTION
answer_q7 = "C"
### END SOLUTION

# %% [test] id=test_answer_q7 points=1
check_choice("answer_q7", globals().get("answer_q7"))
### BEGIN HIDDEN TESTS
assert answer_q7 == "C", "answer_q7: how many labels per word? See 'Types of RNN'."
### END HIDDEN TESTS
print("✓ answer_q7 is one of A, B, C, D")

# %% [markdown]
# **Question 8.** Machine translation: from an English sentence, write its French translation.

# %% [answer] id=answer_q8
# Set answer_q8 to the letter of your choice.
### BEGIN SOLUTION
answer_q8 = "D"
### END SOLUTION

# %% [test] id=test_answer_q8 points=1
check_choice("answer_q8", globals().get("answer_q8"))
### BEGIN HIDDEN TESTS
assert answer_q8 == "D", "answer_q8: do the two sentences have the same length? See 'Types of RNN'."
### END HIDDEN TESTS
print("✓ answer_q8 is one of A, B, C, D")

# %% [markdown]
# **Question 9.** Music generation: given only the genre you want (or nothing at all), compose a
# sequence of notes.

# %% [answer] id=answer_q9
# Set answer_q9 to the letter of your choice.
### BEGIN SOLUTION
answer_q9 = "A"
### END SOLUTION

# %% [test] id=test_answer_q9 points=1
check_choice("answer_q9", globals().get("answer_q9"))
### BEGIN HIDDEN TESTS
assert answer_q9 == "A", "answer_q9: how many inputs are there? See 'Types of RNN'."
### END HIDDEN TESTS
print("✓ answer_q9 is one of A, B, C, D")

# %% [markdown]
# **Question 10.** Sentiment analysis: read a whole film review and say whether it is positive
# or negative.

# %% [answer] id=answer_q10
# Set answer_q10 to the letter of your choice.
### BEGIN SOLUTION
answer_q10 = "B"
### END SOLUTION

# %% [test] id=test_answer_q10 points=1
check_choice("answer_q10", globals().get("answer_q10"))
### BEGIN HIDDEN TESTS
assert answer_q10 == "B", "answer_q10: how many outputs are there? See 'Types of RNN'."
### END HIDDEN TESTS
print("✓ answer_q10 is one of A, B, C, D")

# %% [markdown]
# Next: [Exercise 1](../01_rnn_cell/rnn_cell.ipynb), where you write the RNN cell itself.
