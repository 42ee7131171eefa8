package attach

// maxRemovedNames bounds how many names of removed links are remembered.
// Flows of a deleted pod are drained a poll interval or so after its veth
// is gone; a node does not delete a thousand pods in that time.
const maxRemovedNames = 1024

// linkNames maps ifindexes to names: present links, and the most recently
// removed ones until maxRemovedNames newer removals push them out.
type linkNames struct {
	present map[int]string
	removed map[int]string
	order   []int // removal order of the keys of removed, oldest first
}

func newLinkNames() linkNames {
	return linkNames{present: make(map[int]string), removed: make(map[int]string)}
}

func (n *linkNames) set(index int, name string) {
	n.present[index] = name
}

// remove moves a present link's name to the removed ones.
func (n *linkNames) remove(index int) {
	name, ok := n.present[index]
	if !ok {
		return
	}
	delete(n.present, index)
	if _, again := n.removed[index]; !again {
		n.order = append(n.order, index)
	}
	n.removed[index] = name
	for len(n.order) > maxRemovedNames {
		delete(n.removed, n.order[0])
		n.order = n.order[1:]
	}
}

// get prefers a present link over a removed one with the same index.
func (n *linkNames) get(index int) (string, bool) {
	if name, ok := n.present[index]; ok {
		return name, true
	}
	name, ok := n.removed[index]
	return name, ok
}

// presentIndexes returns the indexes of present links.
func (n *linkNames) presentIndexes() []int {
	out := make([]int, 0, len(n.present))
	for index := range n.present {
		out = append(out, index)
	}
	return out
}
