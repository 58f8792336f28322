"""Part 8, troubleshooting: the doctor that says what will go wrong before it does.
"""
