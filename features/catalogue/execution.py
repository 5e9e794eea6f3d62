"""Reliability (family ``execution``): accepted campaigns delivered, on time, approved first time."""

from __future__ import annotations

from .base import Family, FeatureText, Rate, shrunk

FAMILY = Family("execution", "Reliability",
                "whether accepted campaigns are delivered, on time and approved first time")
F = FAMILY.feature

FEATURES = (
    F("delivery_rate",
      "share of accepted campaigns delivered, among those delivered or past their due date "
      f"({shrunk('accepted campaigns resolved')})", "share 0-1", None, 1,
      FeatureText("Accepted campaigns delivered", "Deliver every campaign you accept",
                  "deliver {v} of what they accept"),
      rate=Rate(lambda w: w.invitations["delivered"], lambda w: w.invitations["c_resolved"], (1.0, 1.0))),
    F("on_time_rate",
      f"share of accepted campaigns delivered by their due date, among those delivered or past "
      f"their due date ({shrunk('accepted campaigns resolved')})", "share 0-1", None, 1,
      FeatureText("Campaigns delivered on time", "Deliver by the due date", "deliver {v} on time"),
      rate=Rate(lambda w: w.invitations["on_time"], lambda w: w.invitations["c_resolved"], (1.0, 1.0))),
    F("first_pass_rate", f"share of deliveries approved without revisions ({shrunk('deliveries')})",
      "share 0-1", None, 1,
      FeatureText("Deliveries approved without revisions", "Follow the brief closely so content passes first time",
                  "get {v} approved first time"),
      rate=Rate(lambda w: w.invitations["first_pass"], lambda w: w.invitations["delivered"], (1.0, 1.0))),
    F("campaigns_completed", "campaign deliveries so far", "campaigns", None, 1,
      FeatureText("Campaign deliveries so far"),
      compute=lambda w: w.invitations["delivered"]),
)
