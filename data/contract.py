"""The raw data contract, declared once: tables, columns, types and nullability.

docs/DATA_CONTRACT.md is generated from :data:`CONTRACT` by ``python -m tools.docgen`` (``make docs``);
its prose lives in docs/src/DATA_CONTRACT.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import constants as C

STRING = "string"
TIMESTAMP = "timestamp"
FLOAT = "float64"
INT = "int64"
BOOL = "bool"


@dataclass(frozen=True)
class Column:
    """One required column of a contract table."""

    name: str
    dtype: str
    nullable: bool
    description: str


@dataclass(frozen=True)
class Table:
    """One contract table: its name, primary key and required columns."""

    name: str
    key: str
    columns: tuple[Column, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, dtype: str, nullable: bool, description: str) -> Column:
    return Column(name, dtype, nullable, description)


CONTRACT: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            C.CREATORS,
            C.CREATOR_ID,
            (
                _c(C.CREATOR_ID, STRING, False, "unique"),
                _c(C.COUNTRY, STRING, False, "ISO 3166-1 alpha-2 country of the creator's audience"),
                _c(C.PRIMARY_CATEGORY, STRING, True, "self-declared main category"),
                _c(C.JOINED_AT, TIMESTAMP, False, "when the creator joined the marketplace"),
                _c(C.RATE_CARD_USD, FLOAT, True, "declared price for one sponsored post"),
            ),
            "One row per creator.",
        ),
        Table(
            C.POSTS,
            C.POST_ID,
            (
                _c(C.POST_ID, STRING, False, "unique"),
                _c(C.CREATOR_ID, STRING, False, "references creators"),
                _c(C.POSTED_AT, TIMESTAMP, False, "publication time"),
                _c(C.CATEGORY, STRING, True, "product/content category of the post"),
                _c(C.IS_SHOPPABLE, BOOL, False, "the post carries product links"),
                _c(C.CAMPAIGN_ID, STRING, True, "set when the post was made for a campaign"),
                _c(C.FOLLOWERS_AT_POST, INT, False, "follower count when posted"),
                _c(C.VIEWS_7D, INT, False, "views counted 7 days after posting"),
                _c(C.LIKES_7D, INT, False, "likes counted 7 days after posting"),
                _c(C.COMMENTS_7D, INT, False, "comments counted 7 days after posting"),
                _c(C.SHARES_7D, INT, False, "shares counted 7 days after posting"),
            ),
            "One row per published video/post.",
        ),
        Table(
            C.CAMPAIGNS,
            C.CAMPAIGN_ID,
            (
                _c(C.CAMPAIGN_ID, STRING, False, "unique"),
                _c(C.BRAND_ID, STRING, False, "the brand running the campaign"),
                _c(C.CATEGORY, STRING, False, "product category promoted"),
                _c(C.COUNTRY, STRING, False, "target market"),
                _c(C.CREATED_AT, TIMESTAMP, False, "when the brief was created: the decision time"),
                _c(C.STARTS_AT, TIMESTAMP, False, "campaign start, >= created_at"),
                _c(C.ENDS_AT, TIMESTAMP, False, "campaign end, >= starts_at"),
                _c(C.BUDGET_USD, FLOAT, True, "total creator budget"),
            ),
            "One row per brand campaign (a brief).",
        ),
        Table(
            C.INVITATIONS,
            C.INVITATION_ID,
            (
                _c(C.INVITATION_ID, STRING, False, "unique"),
                _c(C.CAMPAIGN_ID, STRING, False, "references campaigns"),
                _c(C.CREATOR_ID, STRING, False, "references creators"),
                _c(C.INVITED_AT, TIMESTAMP, False, ">= the campaign's created_at"),
                _c(C.RESPONDED_AT, TIMESTAMP, True, "null: never answered"),
                _c(C.ACCEPTED, BOOL, True, "null when there was no answer"),
                _c(C.FEE_USD, FLOAT, True, "agreed fee when accepted"),
                _c(C.DUE_AT, TIMESTAMP, True, "content deadline when accepted"),
                _c(C.DELIVERED_AT, TIMESTAMP, True, "content delivered; null: not (yet) delivered"),
                _c(C.APPROVED_FIRST_PASS, BOOL, True, "delivered content approved without revisions"),
            ),
            "One row per offer from a campaign to a creator.",
        ),
        Table(
            C.ORDERS,
            C.ORDER_ID,
            (
                _c(C.ORDER_ID, STRING, False, "unique"),
                _c(C.CREATOR_ID, STRING, False, "attributed creator"),
                _c(C.CAMPAIGN_ID, STRING, True, "null for organic (non-campaign) sales"),
                _c(C.POST_ID, STRING, True, "the post that drove the order, when known"),
                _c(C.ORDERED_AT, TIMESTAMP, False, "order time"),
                _c(C.GMV_USD, FLOAT, False, ">= 0"),
                _c(C.REFUNDED_AT, TIMESTAMP, True, "null: not refunded"),
            ),
            "One row per order attributed to a creator.",
        ),
    )
}
