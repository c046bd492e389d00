"""Reddit bot: schema `reddit_bot`. One module per aggregate, each the twin of a query file: `posts`,
`comments`, `patterns`; `seed` makes sample data. Build a repository on a `Database` or a `Transaction`."""

from datalayer.reddit_bot.comments import Comment, CommentRepository, CreateCommentParams
from datalayer.reddit_bot.patterns import NewPattern, PatternRepository, SuccessfulPattern
from datalayer.reddit_bot.posts import Post, PostRepository, UpsertPostParams

__all__ = [
    "Comment",
    "CommentRepository",
    "CreateCommentParams",
    "NewPattern",
    "PatternRepository",
    "Post",
    "PostRepository",
    "SuccessfulPattern",
    "UpsertPostParams",
]
