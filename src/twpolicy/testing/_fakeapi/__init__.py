"""A fake X API for tests: the v2 and v1.1 routes tweepy uses, answered in memory.

It sits *below* tweepy, as the transport of the client's HTTP session (a requests adapter for
`tweepy.Client` and `tweepy.API`, an aiohttp connector for `tweepy.asynchronous.AsyncClient`),
so every line of tweepy and twpolicy runs as in production: nothing but the network is fake.

It is stateful (a tweet created can be read, liked, deleted), answers with payloads shaped like
recorded ones (status codes, ``errors`` arrays, ``meta.next_token``, ``x-rate-limit-*``
headers), checks authentication the way X does (app-only bearer versus user context, acting
only as the authenticated user), and records every request for assertions. A route it does not
know answers 404 with a message listing the ones it does.

The modules, from the bottom: ``_state`` (the records, and the operations both API versions
share), ``_routing`` (the routing table, rate limits, and the replies and errors handlers
give), ``_v2`` (what every v2 route shares: fields, expansions, rendering, pages), the
handlers by resource (``_v2_tweets``, ``_v2_users``, and ``_v1`` with the v1.1 shapes),
``_transports`` (how clients reach the fake), and ``_facade`` (`FakeXAPI`, which joins them).
"""
