"""Text: pure functions over strings (Arabic normalisation and tokens, sentences, chunks,
what the encoder sees, English names in Arabic script, time in questions, a question read
once). None of it knows about an index.
"""
