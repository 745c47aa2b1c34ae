// lib/rtc: translation unit anchoring the library while its modules are added.
namespace collab::rtc {}
