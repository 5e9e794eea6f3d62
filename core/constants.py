"""Every table and column name the system uses, in one place.

Code refers to columns through these names so that a rename is one edit.
"""

# Tables of the raw data contract (docs/DATA_CONTRACT.md).
CREATORS = "creators"
POSTS = "posts"
CAMPAIGNS = "campaigns"
INVITATIONS = "invitations"
ORDERS = "orders"
TABLES = (CREATORS, POSTS, CAMPAIGNS, INVITATIONS, ORDERS)

# Ids.
CREATOR_ID = "creator_id"
POST_ID = "post_id"
CAMPAIGN_ID = "campaign_id"
BRAND_ID = "brand_id"
INVITATION_ID = "invitation_id"
ORDER_ID = "order_id"

# creators
COUNTRY = "country"
PRIMARY_CATEGORY = "primary_category"
JOINED_AT = "joined_at"
RATE_CARD_USD = "rate_card_usd"

# posts
POSTED_AT = "posted_at"
CATEGORY = "category"
IS_SHOPPABLE = "is_shoppable"
FOLLOWERS_AT_POST = "followers_at_post"
VIEWS_7D = "views_7d"
LIKES_7D = "likes_7d"
COMMENTS_7D = "comments_7d"
SHARES_7D = "shares_7d"

# campaigns
CREATED_AT = "created_at"
STARTS_AT = "starts_at"
ENDS_AT = "ends_at"
BUDGET_USD = "budget_usd"

# invitations
INVITED_AT = "invited_at"
RESPONDED_AT = "responded_at"
ACCEPTED = "accepted"
FEE_USD = "fee_usd"
DUE_AT = "due_at"
DELIVERED_AT = "delivered_at"
APPROVED_FIRST_PASS = "approved_first_pass"

# orders
ORDERED_AT = "ordered_at"
GMV_USD = "gmv_usd"
REFUNDED_AT = "refunded_at"

# Derived columns.
AS_OF = "as_of"
OUTCOME_GMV = "outcome_gmv"  # net GMV of an invitation: the contract's training label
LABEL = "label"  # graded relevance derived from OUTCOME_GMV
OUTCOME_ACCEPTED = "outcome_accepted"  # the invitation was accepted (known before the cutoff)
OUTCOME_DELIVERED = "outcome_delivered"  # ... and delivered before the cutoff
EXPECTED_GMV = "expected_gmv"  # generator's latent truth per invitation
SCORE = "score"
RANK = "rank"
PERCENTILE = "percentile"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
FEATURE_SET_VERSION = "feature_set_version"
SCORED_AT = "scored_at"
TIES = "ties"  # other candidates of the same brief with exactly the same score
CONFIDENCE = "confidence"  # none / low / medium / high evidence (serving/ranking.py)
POSTS_SEEN = "posts_seen"
INVITATIONS_SEEN = "invitations_seen"
ORDERS_SEEN = "orders_seen"
CATEGORY_POSTS_SEEN = "category_posts_seen"  # posts in the brief's category before as_of

# Value columns of a scored row (training/value.py, serving/score.py; docs/VALUE.md).
EXPECTED_GMV_USD = "expected_gmv_usd"  # expected net GMV for this brief if invited
GMV_P10_USD = "gmv_p10_usd"  # 80% interval of the net GMV: low end
GMV_P90_USD = "gmv_p90_usd"  # 80% interval of the net GMV: high end
FAIR_FEE_USD = "fair_fee_usd"  # expected_gmv_usd / target_roas
FEE_VS_RATE_CARD = "fee_vs_rate_card"  # rate_card_usd / fair_fee_usd (NaN: no rate card or no fair fee)
TARGET_ROAS = "target_roas"  # optional brief field: the brand's target return on creator spend
VALUE_COLUMNS = (EXPECTED_GMV_USD, GMV_P10_USD, GMV_P90_USD, FAIR_FEE_USD, FEE_VS_RATE_CARD)

# Point-in-time constants of the contract.
ENGAGEMENT_DELAY_DAYS = 7  # *_7d counts are known at posted_at + 7 days
IGNORED_AFTER_DAYS = 7  # an unanswered invitation counts as ignored after 7 days
LABEL_SETTLE_DAYS = 14  # orders count until ends_at + 14 days

# Registry defaults.
REGISTERED_MODEL = "creator-ranker"
CHAMPION = "champion"
CHALLENGER = "challenger"

# Uncertainty and exploration columns of a scored row (training/uncertainty.py, serving/explore.py;
# docs/EXPLORATION.md).
SCORE_SD = "score_sd"  # sd across bagged rankers of the score's within-campaign deviation
EXPLORED = "explored"  # placed in the top list by exploration (not by score)
SELECTION_PROBABILITY = "selection_probability"  # probability the row had of a place in the top list
LIST_POSITION = "list_position"  # 1..N in the explored top list; missing outside it

# Scratch column of the shard files a Dask run partitions a data folder into (features/shard_files.py):
# the row's 1-based row in its source table, so a shard's rows are read back in table order.
SOURCE_ROW = "_source_row"
