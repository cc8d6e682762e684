"""The method registry: every attribution method by name, built behind one wrapper.

Public through :mod:`captum_ifim.methods` and :mod:`captum_ifim`.
"""
