package mapping

import (
	"crypto/rand"
	"math/big"
)

// Character classes of generated passwords. Look-alikes (0/O, 1/l/I) are left
// out because a person may have to type the password once.
const (
	lowerChars   = "abcdefghijkmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	digitChars   = "23456789"
	specialChars = "!@#$%^&*"
	// PasswordLength is comfortably above Encompass's minimum and below its
	// maximum of 50.
	PasswordLength = 20
)

// GeneratePassword returns a random password that meets Encompass's policy:
// upper and lower case letters, digits and special characters, PasswordLength
// long, from crypto/rand. It is sent once, on create, with
// requirePasswordChange, and is never logged, stored or published.
func GeneratePassword() (string, error) {
	classes := []string{lowerChars, upperChars, digitChars, specialChars}
	all := lowerChars + upperChars + digitChars + specialChars
	b := make([]byte, PasswordLength)
	for i := range b {
		set := all
		if i < len(classes) {
			set = classes[i] // one of each class, shuffled below
		}
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	for i := len(b) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		b[i], b[j.Int64()] = b[j.Int64()], b[i]
	}
	return string(b), nil
}

func pick(set string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, err
	}
	return set[n.Int64()], nil
}
