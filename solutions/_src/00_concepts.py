# Source of solutions/00_concepts/concepts.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 0: concept checks
#
# | | |
# |---|---|
# | **Follows** | chapters 1, 2, 6 and 7: [What is an RNN](../../book/chapters/01_what_is_an_rnn.ipynb), [Why RNNs when we have CNNs](../../book/chapters/02_why_rnns.ipynb), [Types of RNN](../../book/chapters/06_rnn_types.ipynb), [CNNs and RNNs compared](../../book/chapters/07_cnn_vs_rnn.ipynb) |
# | **Time** | about 20 minutes |
# | **Prerequisites** | none: there is no code to write, and one given experiment to run |
# | **What you will build** | a map of which problems a recurrent network is for, and one experiment that shows what its hidden state (隐藏状态) adds |
#
# **After this exercise you can**
#
# - say which problems recurrent neural networks (RNN, 循环神经网络) are made for, and which
#   they are not;
# - explain what an RNN's hidden state (隐藏状态) adds to a feed-forward neural network
#   (前馈神经网络) or a convolutional neural network (CNN, 卷积神经网络);
# - contrast CNNs and RNNs, and say what they have in common;
# - recognise the shape of a sequence (序列) task: one-to-many (一对多), many-to-one (多对一),
#   many to many (aligned), or encoder–decoder (编码器-解码器).
#
# Each technical term comes with its Chinese name the first time it appears; the
# [glossary](../../book/glossary.md) lists them all.
#
# **How to work.** Each question has one best answer. Write it in the cell below the question
# as a capital letter in quotes, for example `answer_q1 = "A"`, and run the test cell after it:
# it checks that your answer is one of the allowed letters. Whether it is *right* is checked
# when your notebook is graded, and the feedback then explains the option you chose, right or
# wrong. Question 11 asks you to predict the result of an experiment *before* you run it.

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
import numpy as np

from autograder.notebook_checks import check_choice

# %% [markdown]
# ## Question 1: what RNNs are for
#
# Which of these tasks is the **least** natural fit for a recurrent network?
#
# - **A.** Turning recorded speech into text.
# - **B.** Translating a sentence from English into French.
# - **C.** Deciding whether a single photograph shows a cat or a dog.
# - **D.** Predicting tomorrow's electricity demand from the demand of the past 30 days.

# %% [answer] id=answer_q1
# Set answer_q1 to the letter of your choice.
### BEGIN SOLUTION
answer_q1 = "C"
### END SOLUTION

# %% [test] id=test_answer_q1 points=1
check_choice("answer_q1", globals().get("answer_q1"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "Speech is a sequence of sound frames, and the text it becomes is a sequence too: "
        "a natural fit for a recurrent network, which reads one frame after another."
    ),
    "B": (
        "A sentence is a sequence of words and so is its translation: the encoder-decoder "
        "form of an RNN was invented for this task."
    ),
    "C": (
        "Right: one photograph is one input of a fixed size, with no order in time. A "
        "feed-forward network or a CNN suits it; an RNN would have no sequence to step "
        "through."
    ),
    "D": (
        "A time series is a sequence: each day's demand depends on the days before, which "
        "is what the hidden state carries. A natural fit."
    ),
}
print(f"answer_q1 = {answer_q1!r}. {WHY.get(answer_q1, '')}")
assert answer_q1 == "C", f"answer_q1 is not right. {WHY.get(answer_q1, '')}"
### END HIDDEN TESTS
print("✓ answer_q1 is one of A, B, C, D")

# %% [markdown]
# ## Question 2: why not a feed-forward network?
#
# A network reads a sentence one word at a time and must fill in the blank of "I grew up in
# France, so my mother tongue is ___". Why does an ordinary feed-forward network (or a CNN) that
# sees only the current word fail at this?
#
# - **A.** It has too few parameters to store a vocabulary (词表).
# - **B.** Its output depends only on its current input: nothing from the earlier words is kept.
# - **C.** It cannot take words as input, only numbers.
# - **D.** It cannot be trained with backpropagation (反向传播).

# %% [answer] id=answer_q2
# Set answer_q2 to the letter of your choice.
### BEGIN SOLUTION
answer_q2 = "B"
### END SOLUTION

# %% [test] id=test_answer_q2 points=1
check_choice("answer_q2", globals().get("answer_q2"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "Size is not the problem: even a huge feed-forward network that sees only the "
        "word 'is' has no way to know that 'France' came earlier."
    ),
    "B": (
        "Right: a feed-forward network maps each input to an output on its own. The clue, "
        "'France', is five words back, and only a state carried from step to step (the "
        "RNN's hidden state) can bring it to the blank."
    ),
    "C": (
        "Every network takes numbers; words become numbers by a one-hot encoding or an "
        "embedding, for a feed-forward network as for an RNN."
    ),
    "D": (
        "Feed-forward networks are what backpropagation (反向传播) was first used for; "
        "training is not the issue, memory is."
    ),
}
print(f"answer_q2 = {answer_q2!r}. {WHY.get(answer_q2, '')}")
assert answer_q2 == "B", f"answer_q2 is not right. {WHY.get(answer_q2, '')}"
### END HIDDEN TESTS
print("✓ answer_q2 is one of A, B, C, D")

# %% [markdown]
# ## Question 3: where the memory (记忆) lives
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
WHY = {
    "A": (
        "W_xh is a weight, the same at every step; it maps the current input X_t into the "
        "state, and holds nothing about this particular sequence's past."
    ),
    "B": (
        "b_h is a constant bias, the same at every step and for every sequence: it cannot "
        "depend on what came before."
    ),
    "C": (
        "Right: H_{t-1} is the state the previous step computed, so everything the "
        "network kept of X_1 ... X_{t-1} reaches step t through it."
    ),
    "D": (
        "X_t is the input of step t itself: new information, not information from the "
        "earlier steps."
    ),
}
print(f"answer_q3 = {answer_q3!r}. {WHY.get(answer_q3, '')}")
assert answer_q3 == "C", f"answer_q3 is not right. {WHY.get(answer_q3, '')}"
### END HIDDEN TESTS
print("✓ answer_q3 is one of A, B, C, D")

# %% [markdown]
# ## Question 4: one set of weights
#
# An RNN reads a sequence of 50 steps, then one of 500 steps. How many different sets of cell
# weights $(W_{xh}, W_{hh}, b_h)$ does it use?
#
# - **A.** One per time step (时间步): 50 for the first sequence, 500 for the second.
# - **B.** One, shared by every step of both sequences.
# - **C.** One per sequence length: two.
# - **D.** One for the first step of a sequence, and one shared by all the steps after it.

# %% [answer] id=answer_q4
# Set answer_q4 to the letter of your choice.
### BEGIN SOLUTION
answer_q4 = "B"
### END SOLUTION

# %% [test] id=test_answer_q4 points=1
check_choice("answer_q4", globals().get("answer_q4"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "Then the network could not read a sequence longer than those it was trained on, "
        "and would have to learn the same rule again at every position. The weights carry "
        "no index t."
    ),
    "B": (
        "Right: the same cell, with the same weights, is applied at every time step of "
        "every sequence. This sharing is what lets one RNN read sequences of any length."
    ),
    "C": (
        "Nothing in the cell depends on the length: one set of weights reads 50 steps or "
        "500 by applying the cell 50 or 500 times."
    ),
    "D": (
        "The first step uses the same cell as the others; it only starts from the initial "
        "state H_0 (often zeros) instead of a computed one."
    ),
}
print(f"answer_q4 = {answer_q4!r}. {WHY.get(answer_q4, '')}")
assert answer_q4 == "B", f"answer_q4 is not right. {WHY.get(answer_q4, '')}"
### END HIDDEN TESTS
print("✓ answer_q4 is one of A, B, C, D")

# %% [markdown]
# ## Question 5: CNNs and RNNs, the difference
#
# Which statement contrasts them correctly?
#
# - **A.** A CNN extends across *space*, sliding the same filter over positions of its input; an RNN extends across *time*, carrying a state from each step to the next.
# - **B.** A CNN shares its weights across positions; an RNN has different weights at every time step.
# - **C.** A CNN remembers its previous inputs; an RNN treats every input independently.
# - **D.** A CNN can only read images, an RNN can only read text.

# %% [answer] id=answer_q5
# Set answer_q5 to the letter of your choice.
### BEGIN SOLUTION
answer_q5 = "A"
### END SOLUTION

# %% [test] id=test_answer_q5 points=1
check_choice("answer_q5", globals().get("answer_q5"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "Right: both share weights, but a CNN applies its filter at every position of one "
        "input, while an RNN applies its cell at every step, each step reading the state "
        "the step before left."
    ),
    "B": (
        "Both share weights: a CNN's filter is the same at every position, and an RNN's "
        "cell is the same at every time step. That common idea is why they are compared "
        "at all."
    ),
    "C": (
        "It is the other way round: a CNN processes each input on its own; the RNN's "
        "hidden state is its memory of earlier inputs."
    ),
    "D": (
        "One-dimensional CNNs read text and audio, and RNNs read any sequence, sensor "
        "readings or notes as well as words. The difference is in how they extend, not in "
        "the data."
    ),
}
print(f"answer_q5 = {answer_q5!r}. {WHY.get(answer_q5, '')}")
assert answer_q5 == "A", f"answer_q5 is not right. {WHY.get(answer_q5, '')}"
### END HIDDEN TESTS
print("✓ answer_q5 is one of A, B, C, D")

# %% [markdown]
# ## Question 6: CNNs and RNNs, what they share
#
# Which statement is true of **both** CNNs and RNNs?
#
# - **A.** They compute their outputs in a forward pass and learn by propagating gradients of a loss backwards to update their parameters.
# - **B.** They need inputs of one fixed size.
# - **C.** They carry a hidden state from one input to the next.
# - **D.** They give the same output whatever the order of the parts of their input.

# %% [answer] id=answer_q6
# Set answer_q6 to the letter of your choice.
### BEGIN SOLUTION
answer_q6 = "A"
### END SOLUTION

# %% [test] id=test_answer_q6 points=1
check_choice("answer_q6", globals().get("answer_q6"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "Right: both are trained the same way, by a forward pass, a loss, and gradients "
        "sent backwards (for an RNN, backwards through time as well)."
    ),
    "B": (
        "An RNN reads sequences of any length, and a CNN followed by pooling can read "
        "images of several sizes. A fixed size belongs to plain feed-forward networks."
    ),
    "C": (
        "Only an RNN carries a state from one input to the next; a CNN has no state between inputs."
    ),
    "D": (
        "Both depend on order: a CNN's filter sees neighbours in a fixed arrangement, and "
        "an RNN reads its steps one after the other. A model blind to order is a bag of "
        "words (Question 11)."
    ),
}
print(f"answer_q6 = {answer_q6!r}. {WHY.get(answer_q6, '')}")
assert answer_q6 == "A", f"answer_q6 is not right. {WHY.get(answer_q6, '')}"
### END HIDDEN TESTS
print("✓ answer_q6 is one of A, B, C, D")

# %% [markdown]
# ## Questions 7 to 10: the shape of a task
#
# For each task, choose its shape:
#
# - **A.** one-to-many: one input, a sequence out;
# - **B.** many-to-one: a sequence in, one output;
# - **C.** many to many, aligned: one output for every input step;
# - **D.** encoder–decoder (sequence to sequence, 序列到序列): a sequence in, a sequence of a
#   *different* length out.
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
WHY = {
    "A": (
        "There is a whole sentence as input, not one input: one-to-many would have to "
        "invent the words it labels."
    ),
    "B": (
        "Many-to-one gives one label for the whole sentence; here every word gets its own label."
    ),
    "C": ("Right: one label per word, and the labels line up with the words, step for step."),
    "D": (
        "The output has exactly as many labels as the sentence has words, so no decoder "
        "needs to choose a different length."
    ),
}
print(f"answer_q7 = {answer_q7!r}. {WHY.get(answer_q7, '')}")
assert answer_q7 == "C", f"answer_q7 is not right. {WHY.get(answer_q7, '')}"
### END HIDDEN TESTS
print("✓ answer_q7 is one of A, B, C, D")

# %% [markdown]
# **Question 8.** Machine translation (机器翻译): from an English sentence, write its French translation.

# %% [answer] id=answer_q8
# Set answer_q8 to the letter of your choice.
### BEGIN SOLUTION
answer_q8 = "D"
### END SOLUTION

# %% [test] id=test_answer_q8 points=1
check_choice("answer_q8", globals().get("answer_q8"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": ("The input is a whole English sentence, not a single item."),
    "B": ("The output is a sentence, not a single label."),
    "C": (
        "A translation rarely has the same number of words as its source, and its words "
        "do not line up one to one (word order changes between languages)."
    ),
    "D": (
        "Right: the encoder reads the English sentence, the decoder writes French of "
        "whatever length it needs."
    ),
}
print(f"answer_q8 = {answer_q8!r}. {WHY.get(answer_q8, '')}")
assert answer_q8 == "D", f"answer_q8 is not right. {WHY.get(answer_q8, '')}"
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
WHY = {
    "A": ("Right: at most one input (the genre), and a whole sequence of notes out."),
    "B": ("Many-to-one reads a sequence to produce one output; here the sequence is the output."),
    "C": ("There is no input sequence for the notes to line up with."),
    "D": (
        "There is no input sequence to encode: the genre is a single value, which is the "
        "one-to-many shape."
    ),
}
print(f"answer_q9 = {answer_q9!r}. {WHY.get(answer_q9, '')}")
assert answer_q9 == "A", f"answer_q9 is not right. {WHY.get(answer_q9, '')}"
### END HIDDEN TESTS
print("✓ answer_q9 is one of A, B, C, D")

# %% [markdown]
# **Question 10.** Sentiment analysis (情感分析): read a whole film review and say whether it is
# positive or negative.

# %% [answer] id=answer_q10
# Set answer_q10 to the letter of your choice.
### BEGIN SOLUTION
answer_q10 = "B"
### END SOLUTION

# %% [test] id=test_answer_q10 points=1
check_choice("answer_q10", globals().get("answer_q10"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": ("The input is a whole review, a sequence of words, not one item."),
    "B": (
        "Right: the network reads the review word by word and gives one label, from its last state."
    ),
    "C": ("One label for the whole review, not one per word."),
    "D": ("The output is a single label, not a sequence."),
}
print(f"answer_q10 = {answer_q10!r}. {WHY.get(answer_q10, '')}")
assert answer_q10 == "B", f"answer_q10 is not right. {WHY.get(answer_q10, '')}"
### END HIDDEN TESTS
print("✓ answer_q10 is one of A, B, C, D")

# %% [markdown]
# ## Question 11: predict, run, explain. Does word order matter?
#
# The cell after this question reads two sentences with the same words in a different
# order, "dog bites man" and "man bites dog", with two small models whose weights are random
# (no training): a **bag of words**, which averages the one-hot encodings (独热编码) of the
# words, and an **RNN**, which reads them one after the other and returns its last hidden state.
# Each model's output for the first sentence is compared with its output for the second.
#
# **Before you run it**, predict which models give *different* outputs for the two sentences.
# Your prediction is graded, so write it down first; the feedback explains the option you chose.
#
# - **A.** both models;
# - **B.** neither model: the same words give the same output;
# - **C.** only the RNN;
# - **D.** only the bag of words.

# %% [answer] id=answer_q11
# Set answer_q11 to the letter of your prediction, then run the experiment below.
### BEGIN SOLUTION
answer_q11 = "C"
### END SOLUTION

# %% [test] id=test_answer_q11 points=1
check_choice("answer_q11", globals().get("answer_q11"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "The bag of words cannot tell them apart: an average of the same three one-hot "
        "vectors is the same whatever their order, so its two outputs are equal (up to a "
        "rounding error of about 1e-16)."
    ),
    "B": (
        "The RNN does tell them apart: its state after 'dog' is not its state after "
        "'man', so the same word 'bites' meets a different H_{t-1} and the last states "
        "differ."
    ),
    "C": (
        "Right: an average forgets the order, while the RNN's state at each step depends "
        "on every earlier word and on the order in which they came."
    ),
    "D": (
        "It is the other way round: the average of the same vectors is the same in any "
        "order, and it is the RNN's chain of states that depends on the order."
    ),
}
print(f"answer_q11 = {answer_q11!r}. {WHY.get(answer_q11, '')}")
assert answer_q11 == "C", f"answer_q11 is not right. {WHY.get(answer_q11, '')}"
### END HIDDEN TESTS
print("✓ answer_q11 is one of A, B, C, D")

# %% [setup] id=setup_order_models
VOCAB = ("dog", "bites", "man")


def random_weights(seed, hidden_size=8):
    """Random, untrained weights of the two models, for a vocabulary of three words."""
    rng = np.random.default_rng(seed)
    V = len(VOCAB)
    return {
        "W_bag": rng.standard_normal((V, hidden_size)),
        "W_xh": rng.standard_normal((V, hidden_size)),
        "W_hh": rng.standard_normal((hidden_size, hidden_size)) / np.sqrt(hidden_size),
        "b_h": 0.1 * rng.standard_normal(hidden_size),
    }


def encode(sentence):
    """'dog bites man' -> (3, V) one-hot rows, one per word."""
    return np.eye(len(VOCAB))[[VOCAB.index(word) for word in sentence.split()]]


def bag_of_words(sentence, weights):
    """The average of the words' one-hot rows, through one linear layer."""
    return encode(sentence).mean(axis=0) @ weights["W_bag"]


def rnn_last_state(sentence, weights):
    """The RNN's hidden state after the last word, from H_0 = 0."""
    h = np.zeros(weights["W_hh"].shape[0])
    for x in encode(sentence):
        h = np.tanh(x @ weights["W_xh"] + h @ weights["W_hh"] + weights["b_h"])
    return h


def order_experiment(seed=0, first="dog bites man", second="man bites dog"):
    """How far apart each model's outputs for the two sentences are (Euclidean distance)."""
    weights = random_weights(seed)
    bag = bag_of_words(first, weights) - bag_of_words(second, weights)
    rnn = rnn_last_state(first, weights) - rnn_last_state(second, weights)
    return {"bag of words": float(np.linalg.norm(bag)), "RNN": float(np.linalg.norm(rnn))}


# %% [markdown]
# Now run the experiment. Try other seeds (other random weights) or other word orders, for
# example `order_experiment(seed=3, second="bites man dog")`.

# %% [code]
for model, distance in order_experiment(seed=0).items():
    print(f"{model:>12}: the outputs for the two sentences are {distance:.3g} apart")

# %% [markdown]
# **What you will see, and why.** The bag of words gives the same output for both sentences
# (a distance of 0, or a rounding error of about $10^{-16}$): an average is the same whatever
# the order of what it averages. The RNN's outputs differ: at each step it reads a word *and*
# the state the earlier words left, so "bites" after "dog" is not "bites" after "man". That
# state, $H_{t-1}$, is the memory (记忆) of Question 3, and it is what
# [Why RNNs when we have CNNs](../../book/chapters/02_why_rnns.ipynb) means by reading the words
# in order.

# %% [markdown]
# Next: [Exercise 1](../01_rnn_cell/rnn_cell.ipynb), where you write the RNN cell itself.
