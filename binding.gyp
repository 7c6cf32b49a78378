{
  "targets": [
    {
      "target_name": "sendmsg",
      "sources": [
        "native-common/addon.cc",
        "native-common/arguments.cc",
        "native-common/udp_handle.cc",
        "native-common/udp_handle_receive.cc",
        "native-common/udp_handle_send.cc",
        "native-common/address.cc",
        "native-common/backend_shared.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native-common"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "conditions": [
        ["OS=='win'", {
          "sources": [
            "native-win/socket.cc",
            "native-win/control.cc",
            "native-win/errors.cc"
          ],
          "include_dirs": ["native-win"],
          "defines": ["WIN32_LEAN_AND_MEAN", "NOMINMAX"],
          "libraries": ["-lws2_32", "-lmswsock", "-liphlpapi"],
          "msvs_settings": {
            "VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17"]}
          }
        }, {
          "sources": [
            "native-posix/socket.cc",
            "native-posix/control.cc"
          ],
          "include_dirs": ["native-posix"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          },
          "conditions": [
            ["OS=='mac'", {
              "defines": ["__APPLE_USE_RFC_3542"]
            }]
          ]
        }]
      ]
    }
  ]
}
