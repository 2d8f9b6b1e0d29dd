# pragma version ~=0.4.3
# @title Storage shapes for the slot-naming tests: a mapping, a nested mapping,
#        a mapping of structs and a dynamic array.

struct Listing:
    seller: address
    price: uint256

owner: public(address)
balances: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
listings: public(HashMap[uint256, Listing])
queue: public(DynArray[uint256, 8])


@deploy
def __init__():
    self.owner = msg.sender


@external
def deposit(amount: uint256):
    self.balances[msg.sender] += amount


@external
def approve(spender: address, amount: uint256):
    self.allowance[msg.sender][spender] = amount


@external
def list_item(item: uint256, price: uint256):
    self.listings[item] = Listing(seller=msg.sender, price=price)


@external
def reprice(item: uint256, price: uint256):
    self.listings[item].price = price


@external
def enqueue(entry: uint256):
    self.queue.append(entry)
