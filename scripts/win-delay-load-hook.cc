// Linked into the mingw cross build of the addon (scripts/build-win.sh), in the role of
// node-gyp's src/win_delay_load_hook.cc for MSVC builds.
//
// The addon imports Node-API and libuv from "node.exe" through a delay-load import library.
// When the first of those functions is called, this hook answers the load of "node.exe" with
// the running executable itself, so the addon works in a renamed node.exe (or any host that
// exports Node-API) instead of loading, or failing to find, a second node.exe from disk.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <delayimp.h>
#include <string.h>

namespace {

FARPROC WINAPI load_exe_hook(unsigned int event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary) return nullptr;
  if (_stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// The delay-load helper (mingw-w64's libmingwex, or MSVC's delayimp.lib) calls this pointer
// before each load. mingw-w64's own definition, a null pointer, sits in an archive member of
// its own, so this definition replaces it.
decltype(__pfnDliNotifyHook2) __pfnDliNotifyHook2 = load_exe_hook;
