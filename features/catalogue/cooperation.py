"""Cooperation: how readily the creator answers and accepts brand invitations."""

from __future__ import annotations

from .base import Family, FeatureText, Rate, shrunk

FAMILY = Family("cooperation", "Cooperation", "how readily the creator answers and accepts brand invitations")
F = FAMILY.feature

FEATURES = (
    F("response_rate",
      f"share of brand invitations answered within 7 days; an invitation counts once answered or "
      f"7 days old ({shrunk('invitations resolved')})", "share 0-1", None, 1,
      FeatureText("Invitations answered within a week", "Answer brand invitations within a week",
                  "answer {v} of their invitations"),
      rate=Rate(lambda w: w.invitations["within7"], lambda w: w.invitations["resolved"], (1.0, 1.0))),
    F("acceptance_rate",
      f"share of answered invitations that were accepted ({shrunk('invitations answered')})", "share 0-1", None, 1,
      FeatureText("Answered invitations accepted", "Accept more of the invitations that suit you",
                  "accept {v} of the invitations they answer"),
      rate=Rate(lambda w: w.invitations["accepted"], lambda w: w.invitations["answered"], (1.0, 1.0))),
    F("ignored_share",
      f"share of invitations more than 7 days old and still unanswered (over invitations "
      f"answered or 7 days old; {shrunk('invitations resolved')})", "share 0-1", None, -1,
      FeatureText("Invitations left unanswered", "Leave no invitation unanswered (a quick 'no' counts)",
                  "leave no more than {v} unanswered"),
      rate=Rate(lambda w: w.invitations["ignored"], lambda w: w.invitations["resolved"], (1.0, 1.0))),
    F("median_hours_to_answer_365d",
      "median hours between an invitation and its answer, answers of the last 365 days", "hours", 365, -1,
      FeatureText("Typical time to answer an invitation", "Answer invitations faster", "answer within {v}"),
      compute=lambda w: w.median_365d(w.mk.answers, "h")),
)
