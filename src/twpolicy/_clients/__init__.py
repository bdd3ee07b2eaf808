"""The drop-in tweepy clients and the one request path they share."""
