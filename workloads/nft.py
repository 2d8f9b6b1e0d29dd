"""NFT traffic: a mint storm, transfers among holders, and a marketplace with royalties.

`collections` ERC-721 collections (nft.vy), each deployed by its own creator, who
airdrops 2 tokens to each of `holders` holders in set-up, after which holders/4
random tokens are listed on the marketplace (nft_market.vy, which every holder has
approved as an operator). The block mixes, by relative weight:

    mint      a holder mints the next token: reads and writes the collection's
              totalSupply (the next-token-id counter), the hot key of a mint storm
    transfer  a holder gives an unlisted token to another holder
    list      a holder lists an unlisted token at a random price
    buy       a holder buys a listed token: the price goes to the seller minus the
              royalty (5%), which goes to the collection's creator

The generator tracks ownership and listings as the block goes, so every transaction
is valid in block order. An operation lands on collection 0 with probability
`hot_ratio`, otherwise on a uniformly chosen collection; sales of one collection all
credit its creator's balance.
"""

from __future__ import annotations

from simulator.engine.locations import BALANCE, STORAGE

from .api import BlockBuilder, Param, Workload, weight

TOKENS_PER_HOLDER = 2
ROYALTY_BPS = 500
BATCH = 256  # nft.vy's MAX_BATCH



class NFTWorkload(Workload):
    name = "nft"
    description = "ERC-721 mint storm, transfers and marketplace sales with royalties"
    params = (
        Param("collections", 2, "number of ERC-721 collections", int, min=1),
        Param("holders", 200, "number of collector accounts", int, min=4),
        Param("hot_ratio", 0.0, "share of operations forced onto collection 0 (the "
              "rest spread uniformly)", float, min=0.0, max=1.0),
        weight("mint_weight", 40.0, "mints (next token id is hot)"),
        weight("transfer_weight", 30.0, "transfers between holders"),
        weight("list_weight", 15.0, "marketplace listings"),
        weight("buy_weight", 15.0, "marketplace purchases"),
    )

    def setup(self, chain: BlockBuilder) -> None:
        self.collectors = chain.accounts(self.holders)
        self.creators = chain.accounts(self.collections)
        self.market = chain.deploy("nft_market", name="NFTMarket")
        self.nfts = []
        # The generator's view of the chain as the block goes, per collection: the
        # token count, unlisted token ids (transferable or listable), listed ids and
        # their prices; and the owner of every (collection, token id).
        self.supply, self.unlisted, self.listed = [], [], []
        self.price, self.owner = {}, {}
        receivers = [holder for holder in self.collectors for _ in range(TOKENS_PER_HOLDER)]
        for index, creator in enumerate(self.creators):
            nft = chain.deploy("nft", f"Collection{index}", ROYALTY_BPS, deployer=creator,
                               name=f"Collection{index}")
            for start in range(0, len(receivers), BATCH):
                chain.call(creator, nft, "mint_batch",
                           [holder.address for holder in receivers[start:start + BATCH]],
                           gas=30_000_000)
            for holder in self.collectors:
                chain.set_storage(nft, "isApprovedForAll", holder, self.market.address,
                                  value=1)
            self.nfts.append(nft)
            self.supply.append(len(receivers))
            self.owner.update({(index, token_id): holder
                               for token_id, holder in enumerate(receivers, start=1)})
            self.unlisted.append(list(range(1, len(receivers) + 1)))
            self.listed.append([])
        for _ in range(self.holders // 4):
            chain.execute(self._list(chain, chain.rng.randrange(self.collections)))

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        weights = {"mint": self.mint_weight, "transfer": self.transfer_weight,
                   "list": self.list_weight, "buy": self.buy_weight}
        operations = {"mint": self._mint, "transfer": self._transfer, "list": self._list,
                      "buy": self._buy}
        txs = []
        for _ in range(n):
            collection = chain.pick(range(self.collections), self.hot_ratio)
            kind = chain.choose(weights)
            if kind in ("transfer", "list") and not self.unlisted[collection] or \
                    kind == "buy" and not self.listed[collection]:
                kind = "mint"  # nothing to move: mint instead
            txs.append(operations[kind](chain, collection))
        return txs

    def _mint(self, chain: BlockBuilder, collection: int):
        holder = chain.rng.choice(self.collectors)
        self.supply[collection] += 1
        self.owner[(collection, self.supply[collection])] = holder
        self.unlisted[collection].append(self.supply[collection])
        return chain.call_tx(holder, self.nfts[collection], "mint")

    def _transfer(self, chain: BlockBuilder, collection: int):
        token_id = chain.rng.choice(self.unlisted[collection])
        sender = self.owner[(collection, token_id)]
        receiver = chain.other(self.collectors, sender)
        self.owner[(collection, token_id)] = receiver
        return chain.call_tx(sender, self.nfts[collection], "transferFrom",
                             sender.address, receiver.address, token_id)

    def _list(self, chain: BlockBuilder, collection: int):
        token_id = _take(chain, self.unlisted[collection])
        self.listed[collection].append(token_id)
        price = self.price[(collection, token_id)] = chain.rng.randint(10**15, 10**18)
        return chain.call_tx(self.owner[(collection, token_id)], self.market, "list",
                             self.nfts[collection].address, token_id, price)

    def _buy(self, chain: BlockBuilder, collection: int):
        token_id = _take(chain, self.listed[collection])
        buyer = chain.other(self.collectors, self.owner[(collection, token_id)])
        self.owner[(collection, token_id)] = buyer
        self.unlisted[collection].append(token_id)
        return chain.call_tx(buyer, self.market, "buy", self.nfts[collection].address,
                             token_id, value=self.price.pop((collection, token_id)))

    def labels(self) -> dict:
        names = {}
        for index, (nft, creator) in enumerate(zip(self.nfts, self.creators)):
            names[(STORAGE, nft.address, nft.slot("totalSupply"))] = (
                f"NFT collection {index} next token id (totalSupply)")
            names[(BALANCE, creator.address)] = f"NFT collection {index} creator balance"
        return names


def _take(chain: BlockBuilder, items: list):
    """Remove and return a random element of `items` (its order is not kept)."""
    position = chain.rng.randrange(len(items))
    items[position], items[-1] = items[-1], items[position]
    return items.pop()
