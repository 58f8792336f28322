"""The notebooks' ipywidgets, one module per notebook topic, apart from the math they call.
"""
