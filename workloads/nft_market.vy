# pragma version ~=0.4.3
# @title NFT marketplace used by the nft workload.
# @notice Owners list a token at a fixed price (they have approved the market as an
#         operator); a buyer pays exactly the price: the collection's creator gets
#         the royalty, the seller the rest, and the market moves the token. Listings
#         are per (collection, token), so sales of different tokens do not conflict
#         except through the creator's balance (royalties).

interface Collection:
    def ownerOf(token_id: uint256) -> address: view
    def creator() -> address: view
    def royalty_bps() -> uint256: view
    def transferFrom(sender: address, receiver: address, token_id: uint256): nonpayable

event Listed:
    collection: indexed(address)
    token_id: indexed(uint256)
    seller: indexed(address)
    price: uint256

event Sale:
    collection: indexed(address)
    token_id: indexed(uint256)
    buyer: indexed(address)
    seller: address
    price: uint256
    royalty: uint256

price: public(HashMap[address, HashMap[uint256, uint256]])
seller: public(HashMap[address, HashMap[uint256, address]])


@external
def list(collection: address, token_id: uint256, price: uint256):
    assert price > 0, "free listing"
    assert staticcall Collection(collection).ownerOf(token_id) == msg.sender, "not the owner"
    self.price[collection][token_id] = price
    self.seller[collection][token_id] = msg.sender
    log Listed(collection=collection, token_id=token_id, seller=msg.sender, price=price)


@external
@payable
def buy(collection: address, token_id: uint256):
    price: uint256 = self.price[collection][token_id]
    seller: address = self.seller[collection][token_id]
    assert price > 0, "not listed"
    assert msg.value == price, "wrong payment"
    self.price[collection][token_id] = 0
    self.seller[collection][token_id] = empty(address)
    royalty: uint256 = price * staticcall Collection(collection).royalty_bps() // 10000
    extcall Collection(collection).transferFrom(seller, msg.sender, token_id)
    send(staticcall Collection(collection).creator(), royalty)
    send(seller, price - royalty)
    log Sale(collection=collection, token_id=token_id, buyer=msg.sender, seller=seller,
             price=price, royalty=royalty)
