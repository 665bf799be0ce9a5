# node-gyp fallback build of the addon (the primary build is cmake-js via CMakeLists.txt; scripts/setup.js).
# Same sources as CMakeLists.txt (native/{core,ops,kernels,hodu,ir,xla,binding}/*.cc, listed when gyp runs),
# oneDNN 3.2 from the pinned wheels (HODU_ONEDNN_DIR, else <repo>/.cache/onednn-3.2.0, fetched if missing).
# Offline: `npm run build:native:gyp` = `node-gyp rebuild --nodedir=/usr` (a bare `node-gyp rebuild` downloads
# node headers). Output: build/Release/hodu.node, RUNPATH $ORIGIN:<oneDNN>/lib.
{
  "variables": {
    "onednn_dir%": "<!(node scripts/prebuild-linux.js --onednn-prefix)",
    "pjrt_include%": "<!(node scripts/prebuild-linux.js --pjrt-include)",
  },
  "targets": [
    {
      "target_name": "hodu",
      "sources": [
        "<!@(node -p \"['core','ops','kernels','hodu','ir','xla','binding'].flatMap((d) => { try { return require('fs').readdirSync('native/' + d).filter((f) => f.endsWith('.cc')).sort().map((f) => 'native/' + d + '/' + f); } catch (e) { return []; } }).join(' ')\")",
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(onednn_dir)/include",
        "native",
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # a terminated worker_thread must not turn a failed napi_throw into std::terminate (see CMakeLists.txt)
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
      ],
      # node's common.gypi compiles with -fno-exceptions -fno-rtti; the core throws and catches C++ exceptions.
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags": ["-fopenmp", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-fvisibility=hidden"],
      "ldflags": [
        "-fopenmp",
        "-Wl,--enable-new-dtags",
        "-Wl,-rpath,'$$ORIGIN'",
        "-Wl,-rpath,<(onednn_dir)/lib",
      ],
      "libraries": ["-L<(onednn_dir)/lib", "-ldnnl", "-ldl"],
      "conditions": [
        ["pjrt_include!=''", {
          "include_dirs": ["<(pjrt_include)"],
          "defines": ["HODU_HAVE_PJRT_HEADER=1"],
        }],
      ],
    },
  ],
}
