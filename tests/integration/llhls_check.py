"""A checker for LL-HLS media playlists (draft-pantos-hls-rfc8216bis): parses a playlist and
reports every rule it breaks. Reusable by any test that produces or consumes LL-HLS.

    pl = llhls_check.check(text)              # raises PlaylistError listing the problems
    llhls_check.check_continuity(prev, pl)    # two playlists of one stream, in order

The rules checked are the ones a player relies on: the required tags, PART-HOLD-BACK at least
three part targets, part and segment durations within their targets, parts adding up to their
segment, a map before media, the preload hint, program date-times, and sequence numbering.
"""
import datetime
import math
import re

TOLERANCE = 0.0005  # durations are printed with a few decimals


class PlaylistError(AssertionError):
    pass


def attributes(text):
    """Parses an attribute list: KEY=VALUE,KEY="quoted",... into a dict of strings."""
    out = {}
    for m in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text):
        v = m.group(2)
        out[m.group(1)] = v[1:-1] if v.startswith('"') else v
    return out


class Part:
    def __init__(self, attrs):
        self.duration = float(attrs["DURATION"])
        self.uri = attrs["URI"]
        self.independent = attrs.get("INDEPENDENT") == "YES"


class Segment:
    def __init__(self, msn):
        self.msn = msn
        self.duration = None  # None while only parts are listed (the segment being made)
        self.uri = None
        self.parts = []
        self.discontinuity = False
        self.map_uri = None
        self.program_date_time = None


class Playlist:
    def __init__(self):
        self.version = None
        self.target_duration = None
        self.part_target = None
        self.server_control = {}
        self.media_sequence = None
        self.discontinuity_sequence = 0
        self.skipped = 0
        self.segments = []
        self.preload_hint = None
        self.ended = False

    @property
    def complete_segments(self):
        return [s for s in self.segments if s.uri is not None]

    def last_part(self):
        """(msn, part index) of the last part listed, or None."""
        for s in reversed(self.segments):
            if s.parts:
                return s.msn, len(s.parts) - 1
        return None


def parse(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("playlist does not start with #EXTM3U")
    pl = Playlist()
    cur = None
    current_map = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-VERSION:"):
            pl.version = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            pl.target_duration = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART-INF:"):
            pl.part_target = float(attributes(line.split(":", 1)[1])["PART-TARGET"])
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            pl.server_control = attributes(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl.media_sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            pl.discontinuity_sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-SKIP:"):
            pl.skipped = int(attributes(line.split(":", 1)[1])["SKIPPED-SEGMENTS"])
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            pl.preload_hint = attributes(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            pl.ended = True
        elif line.startswith("#EXT-X-MAP:"):
            current_map = attributes(line.split(":", 1)[1])["URI"]
            if cur is not None:
                cur.map_uri = current_map  # after an EXT-X-DISCONTINUITY that started this segment
        elif line.startswith("#") and not line.startswith("#EXT"):
            continue  # comment
        else:
            if cur is None:
                msn = (pl.media_sequence or 0) + pl.skipped + len(pl.segments)
                cur = Segment(msn)
                cur.map_uri = current_map
            if line == "#EXT-X-DISCONTINUITY":
                cur.discontinuity = True
            elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                cur.program_date_time = parse_date(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-PART:"):
                cur.parts.append(Part(attributes(line.split(":", 1)[1])))
            elif line.startswith("#EXTINF:"):
                cur.duration = float(line.split(":", 1)[1].split(",")[0])
            elif not line.startswith("#"):
                cur.uri = line
                pl.segments.append(cur)
                cur = None
    if cur is not None and (cur.parts or cur.duration is not None):
        pl.segments.append(cur)  # the segment being made, listed by its parts
    return pl


def parse_date(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def problems(pl):
    p = []
    if pl.version is None or pl.version < 6:
        p.append(f"EXT-X-VERSION {pl.version} (LL-HLS needs at least 6)")
    if pl.target_duration is None:
        p.append("no EXT-X-TARGETDURATION")
    if pl.part_target is None:
        p.append("no EXT-X-PART-INF:PART-TARGET")
    if pl.media_sequence is None:
        p.append("no EXT-X-MEDIA-SEQUENCE")
    sc = pl.server_control
    if sc.get("CAN-BLOCK-RELOAD") != "YES":
        p.append("EXT-X-SERVER-CONTROL lacks CAN-BLOCK-RELOAD=YES")
    if "PART-HOLD-BACK" not in sc:
        p.append("EXT-X-SERVER-CONTROL lacks PART-HOLD-BACK")
    elif pl.part_target and float(sc["PART-HOLD-BACK"]) + TOLERANCE < 3 * pl.part_target:
        p.append(f"PART-HOLD-BACK {sc['PART-HOLD-BACK']} is less than 3 x PART-TARGET {pl.part_target}")
    if "CAN-SKIP-UNTIL" in sc and pl.target_duration and float(sc["CAN-SKIP-UNTIL"]) < 6 * pl.target_duration:
        p.append(f"CAN-SKIP-UNTIL {sc['CAN-SKIP-UNTIL']} is less than 6 target durations")
    if pl.skipped and "CAN-SKIP-UNTIL" not in sc:
        p.append("EXT-X-SKIP without CAN-SKIP-UNTIL")
    if pl.preload_hint is None:
        p.append("no EXT-X-PRELOAD-HINT")
    elif pl.preload_hint.get("TYPE") != "PART" or not pl.preload_hint.get("URI"):
        p.append(f"bad EXT-X-PRELOAD-HINT {pl.preload_hint}")
    if not pl.segments:
        p.append("no media segments or parts")
    uris = set()
    prev_pdt = None
    for i, s in enumerate(pl.segments):
        where = f"segment {s.msn}"
        if s.map_uri is None:
            p.append(f"{where} has no EXT-X-MAP before it")
        if s.program_date_time is None:
            p.append(f"{where} has no EXT-X-PROGRAM-DATE-TIME")
        elif prev_pdt is not None and s.program_date_time < prev_pdt:
            p.append(f"{where}: EXT-X-PROGRAM-DATE-TIME goes backwards")
        if s.program_date_time is not None:
            prev_pdt = s.program_date_time
        if s.uri is not None:
            if s.uri in uris:
                p.append(f"{where}: URI {s.uri} listed twice")
            uris.add(s.uri)
            if s.duration is None:
                p.append(f"{where} has no EXTINF")
            elif pl.target_duration is not None and round(s.duration) > pl.target_duration:
                p.append(f"{where}: EXTINF {s.duration} exceeds EXT-X-TARGETDURATION {pl.target_duration}")
            if s.parts and s.duration is not None and abs(sum(x.duration for x in s.parts) - s.duration) > 0.01:
                p.append(f"{where}: parts add up to {sum(x.duration for x in s.parts):.5f}, EXTINF says {s.duration}")
        elif i != len(pl.segments) - 1:
            p.append(f"{where} has no URI but is not the last")
        for j, part in enumerate(s.parts):
            if part.uri in uris:
                p.append(f"{where}: part URI {part.uri} listed twice")
            uris.add(part.uri)
            if pl.part_target is not None and part.duration > pl.part_target + TOLERANCE:
                p.append(f"{where} part {j}: DURATION {part.duration} exceeds PART-TARGET {pl.part_target}")
            if part.duration <= 0:
                p.append(f"{where} part {j}: DURATION {part.duration}")
            # Every part but a segment's last must be at least 85% of the part target.
            last_of_segment = j == len(s.parts) - 1
            if (pl.part_target is not None and not last_of_segment and
                    part.duration < 0.85 * pl.part_target - TOLERANCE):
                p.append(f"{where} part {j}: DURATION {part.duration} is under 85% of PART-TARGET")
    if pl.segments and not any(part.independent for s in pl.segments for part in s.parts) and any(
            s.parts for s in pl.segments):
        p.append("no part is marked INDEPENDENT=YES")
    if pl.preload_hint and pl.segments:
        uri = pl.preload_hint.get("URI")
        if uri in uris:
            p.append(f"EXT-X-PRELOAD-HINT names {uri}, which is already listed")
    return p


def check(text):
    """Parses and validates; returns the Playlist or raises PlaylistError with every problem."""
    pl = parse(text)
    found = problems(pl)
    if found:
        raise PlaylistError("LL-HLS playlist problems:\n  " + "\n  ".join(found) + "\n--- playlist ---\n" + text)
    return pl


def check_continuity(prev, cur):
    """Rules between two playlists of one live stream, fetched in this order."""
    p = []
    if cur.media_sequence < prev.media_sequence:
        p.append(f"EXT-X-MEDIA-SEQUENCE went back from {prev.media_sequence} to {cur.media_sequence}")
    if cur.discontinuity_sequence < prev.discontinuity_sequence:
        p.append("EXT-X-DISCONTINUITY-SEQUENCE went back")
    if cur.target_duration != prev.target_duration:
        p.append("EXT-X-TARGETDURATION changed")
    old = {s.msn: s for s in prev.complete_segments}
    for s in cur.complete_segments:
        if s.msn in old:
            o = old[s.msn]
            if (o.uri, o.duration, o.discontinuity) != (s.uri, s.duration, s.discontinuity):
                p.append(f"segment {s.msn} changed between reloads")
    last_prev = prev.last_part()
    last_cur = cur.last_part()
    if last_prev and last_cur and last_cur < last_prev:
        p.append(f"the last part went back from {last_prev} to {last_cur}")
    if p:
        raise PlaylistError("LL-HLS continuity problems:\n  " + "\n  ".join(p))
