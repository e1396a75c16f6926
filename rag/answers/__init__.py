"""Answers: from a question to an ``Answer`` with citations (hybrid retrieval, the hits
shown, the extractive answerer, evidence and abstention, generation through litellm and
the check of its claims, follow-ups, small talk, prompts).
"""
