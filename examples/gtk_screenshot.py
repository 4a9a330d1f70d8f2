# SPDX-License-Identifier: LGPL-2.1-or-later
"""Saves a GTK 4 window's last frame as a PNG: what the examples' self-tests
(gtk-demo.py, loop-monitor.py) use for their screenshots."""

import os


def render_to_png(window, paintable, width, height, path):
    """Renders @paintable (the window's last frame) with the window's renderer
    and saves a PNG.

    PyGObject before 3.50 cannot marshal GskRenderNode (a fundamental type,
    not a GObject), so the three calls that handle the node go through
    ctypes; everything else is PyGObject.
    """
    import ctypes
    gtk = ctypes.CDLL('libgtk-4.so.1')
    vp = ctypes.c_void_p
    gtk.gtk_snapshot_new.restype = vp
    gtk.gtk_snapshot_free_to_node.restype = vp
    gtk.gtk_snapshot_free_to_node.argtypes = [vp]
    gtk.gdk_paintable_snapshot.argtypes = [vp, vp, ctypes.c_double, ctypes.c_double]
    gtk.gsk_renderer_render_texture.restype = vp
    gtk.gsk_renderer_render_texture.argtypes = [vp, vp, vp]
    gtk.gsk_render_node_unref.argtypes = [vp]
    gtk.gdk_texture_save_to_png.argtypes = [vp, ctypes.c_char_p]
    gtk.g_object_unref.argtypes = [vp]
    pointer_of = ctypes.pythonapi.PyCapsule_GetPointer
    pointer_of.argtypes = [ctypes.py_object, ctypes.c_char_p]
    pointer_of.restype = vp

    snapshot = gtk.gtk_snapshot_new()
    gtk.gdk_paintable_snapshot(pointer_of(paintable.__gpointer__, None), snapshot,
                               width, height)
    node = gtk.gtk_snapshot_free_to_node(snapshot)
    if not node:
        return False
    rect = (ctypes.c_float * 4)(0, 0, width, height)   # graphene_rect_t
    renderer = pointer_of(window.get_native().get_renderer().__gpointer__, None)
    texture = gtk.gsk_renderer_render_texture(renderer, node, rect)
    gtk.gsk_render_node_unref(node)
    saved = bool(gtk.gdk_texture_save_to_png(texture, os.fsencode(path)))
    gtk.g_object_unref(texture)
    return saved
