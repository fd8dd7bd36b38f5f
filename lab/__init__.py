"""The page's model: the scene on screen, its link format and the lessons.

:mod:`lab.scene` defines the :class:`~lab.scene.Scene` value and its query
string; :mod:`lab.lessons` defines the named scenes of the course.
"""
