/* ovfast's elements as a GStreamer plugin (libgstovfast.so), for programs that run no Python themselves:
 * gst-launch-1.0, gst-inspect-1.0, C programs.
 *
 * The elements are Cython (ovfast.gst._video), so loading the plugin means loading ovfast. In a process
 * without Python the plugin starts one, as DL Streamer's gvapython does; in either case it imports the
 * ovfast it was installed with (site-packages/ovfast/gst/plugin/libgstovfast.so), which registers its
 * elements and metadata with this plugin. If that fails, one line on stderr says why and the plugin fails
 * to load: GStreamer then has no such element. setup.py links libpython and exports what GStreamer's
 * loader looks up (gst_plugin_ovfast_get_desc) with the _register function of GST_PLUGIN_DEFINE, nothing
 * else. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gst/gst.h>

#ifndef OVFAST_VERSION
#error "setup.py defines OVFAST_VERSION and OVFAST_BASE_PYTHON"
#endif
#define PACKAGE "ovfast"

static void say(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* One line on stderr: where GStreamer runs plugins in gst-plugin-scanner, the scanner's stderr is the
 * program's. */
static void say(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("ovfast GStreamer plugin: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(args);
}

static char *up(char *path, int levels)
{
    while (levels-- > 0) {
        char *parent = g_path_get_dirname(path);
        g_free(path);
        path = parent;
    }
    return path;
}

/* This file's path (g_free it); NULL if the plugin cannot tell. */
static char *plugin_file(void)
{
    Dl_info info;
    char *real;
    char *path;
    if (!dladdr((void *)plugin_file, &info) || info.dli_fname == NULL)
        return NULL;
    real = realpath(info.dli_fname, NULL);
    if (real == NULL)
        return NULL;
    path = g_strdup(real);
    free(real);
    return path;
}

/* The interpreter whose sys.path Python starts with: the virtual environment's where the site is one's
 * (<venv>/lib/pythonX.Y/site-packages, <venv>/pyvenv.cfg), so that it imports that environment's
 * packages, else the Python whose libpython the plugin links; never whichever python3 comes first on
 * PATH, which is what an embedded Python guesses otherwise. */
static char *python_executable(const char *site)
{
    char *prefix = up(g_strdup(site), 3);
    char *cfg = g_build_filename(prefix, "pyvenv.cfg", NULL);
    char *exe = g_file_test(cfg, G_FILE_TEST_IS_REGULAR) ? g_build_filename(prefix, "bin", "python3", NULL)
                                                         : g_strdup(OVFAST_BASE_PYTHON);
    g_free(cfg);
    g_free(prefix);
    return exe;
}

/* Starts Python in a process that has none; the GIL is then this thread's. */
static gboolean start_python(const char *site)
{
    Dl_info info;
    PyConfig config;
    PyStatus status;
    char *exe;
    char *argv[] = {""};
    /* Extension modules (numpy's, ovfast's) do not link libpython: they take its symbols from the global
     * scope, where GStreamer, which opens plugins with RTLD_LOCAL, did not put them. */
    if (!dladdr((void *)Py_IsInitialized, &info) || info.dli_fname == NULL
        || dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL) {
        say("cannot make libpython's symbols global (%s)", dlerror());
        return FALSE;
    }
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  /* Ctrl-C stays the program's (gst-launch-1.0: EOS, then stop) */
    config.buffered_stdio = 0;           /* the interpreter is never finalized: buffered output would be lost */
    config.parse_argv = 0;
    /* sys.argv = [""]: modules written for gvapython call Gst.init(sys.argv) when they are imported */
    status = PyConfig_SetBytesArgv(&config, 1, argv);
    if (!PyStatus_Exception(status)) {
        exe = python_executable(site);
        status = PyConfig_SetBytesString(&config, &config.executable, exe);
        g_free(exe);
    }
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        say("cannot start Python (%s)", status.err_msg ? status.err_msg : "no reason given");
        return FALSE;
    }
    return TRUE;
}

/* The pending Python exception as "Type: message" on one line (g_free it); clears it. */
static char *exception_text(void)
{
    PyObject *type, *value, *traceback, *text;
    const char *message = NULL;
    char *line;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    text = value != NULL ? PyObject_Str(value) : NULL;
    if (text != NULL)
        message = PyUnicode_AsUTF8(text);
    line = g_strdup_printf("%s: %s", type != NULL ? ((PyTypeObject *)type)->tp_name : "unknown error",
                           message != NULL ? message : "");
    g_strdelimit(line, "\r\n", ' ');
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    PyErr_Clear();
    return line;
}

/* Puts site on sys.path as site.addsitedir does (its .pth files too), unless it is there already. */
static int add_site(const char *site)
{
    PyObject *path = PySys_GetObject("path");  /* borrowed */
    PyObject *dir = PyUnicode_DecodeFSDefault(site);
    PyObject *module, *result = NULL;
    int present;
    if (dir == NULL || path == NULL) {
        Py_XDECREF(dir);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "sys.path is missing");
        return -1;
    }
    present = PySequence_Contains(path, dir);
    if (present == 0 && (module = PyImport_ImportModule("site")) != NULL) {
        result = PyObject_CallMethod(module, "addsitedir", "O", dir);
        Py_DECREF(module);
    }
    Py_DECREF(dir);
    if (present < 0 || (present == 0 && result == NULL))
        return -1;
    Py_XDECREF(result);
    return 0;
}

/* Imports ovfast.gst, telling it that this plugin registers the elements (ovfast._gst_plugin_loading, so
 * that it does not register them for the process alone), then registers them with the plugin. */
static int register_elements(GstPlugin *plugin)
{
    PyObject *ovfast, *gst, *video, *result = NULL;
    PyObject *type, *value, *traceback;
    ovfast = PyImport_ImportModule("ovfast");
    if (ovfast == NULL)
        return -1;
    if (PyObject_SetAttrString(ovfast, "_gst_plugin_loading", Py_True) != 0) {
        Py_DECREF(ovfast);
        return -1;
    }
    gst = PyImport_ImportModule("ovfast.gst");
    PyErr_Fetch(&type, &value, &traceback);
    if (PyObject_DelAttrString(ovfast, "_gst_plugin_loading") != 0)
        PyErr_Clear();
    PyErr_Restore(type, value, traceback);
    Py_DECREF(ovfast);
    if (gst == NULL)
        return -1;
    Py_DECREF(gst);
    video = PyImport_ImportModule("ovfast.gst._video");
    if (video != NULL) {
        result = PyObject_CallMethod(video, "register", "K", (unsigned long long)(uintptr_t)plugin);
        Py_DECREF(video);
    }
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* With the GIL. */
static gboolean load_ovfast(GstPlugin *plugin, const char *file, const char *site)
{
    char *error;
    if (add_site(site) == 0 && register_elements(plugin) == 0)
        return TRUE;
    error = exception_text();
    say("cannot load ovfast from %s (%s): %s loads the ovfast it is installed with; put on GST_PLUGIN_PATH "
        "the folder that `python -m ovfast gst-plugin-path` prints", site, error, file);
    g_free(error);
    return FALSE;
}

static gboolean plugin_init(GstPlugin *plugin)
{
    PyGILState_STATE gil;
    gboolean loaded = FALSE;
    char *file = plugin_file();
    char *site;
    if (file == NULL) {
        say("cannot tell which file this plugin was loaded from (dladdr), so where ovfast is");
        return FALSE;
    }
    site = up(g_strdup(file), 4);  /* <site>/ovfast/gst/plugin/libgstovfast.so */
    if (Py_IsInitialized()) {
        gil = PyGILState_Ensure();
        loaded = load_ovfast(plugin, file, site);
        PyGILState_Release(gil);
    } else if (start_python(site)) {
        loaded = load_ovfast(plugin, file, site);
        /* Streaming threads take the GIL when they run Python; this thread takes it back the same way
         * (PyGILState_Ensure), so its state is never needed here again. */
        PyEval_SaveThread();
    }
    g_free(site);
    g_free(file);
    return loaded;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, ovfast,
                  "OpenVINO inference (ovfastinfer, ovfastdetect, ovfastclassify), Python per frame (ovfastpython), "
                  "JSON publishing (ovfastmetaconvert, ovfastmetapublish), tracking (ovfasttrack), overlay "
                  "(ovfastwatermark) and FPS (ovfastfpscounter) on ovfast",
                  plugin_init, OVFAST_VERSION, "Apache 2.0", "ovfast", "ovfast")
