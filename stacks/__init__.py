"""One module per lab; each stack only composes constructs from cdk_constructs/.

Which stack class builds a lab is named by the lab's contract (``catalog/<lab>.py``,
``stack="stacks.<module>:<Class>"``), so nothing but the app imports these modules.
"""
