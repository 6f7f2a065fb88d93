// Package rostergen writes large HRIS rosters (CONTRACTS section 7) for the
// tests and benchmarks of reconciliation, row by row, so that a roster of
// any size costs the same memory to write.
package rostergen

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SimUsers writes a CSV roster of n active employees who are the
// simulator's generated users (encompasstest.WithUsers(n)): employee id
// S<nnnnnn>, e-mail simuser<nnnnnn>@example.com, so that each row matches
// exactly one account by its Encompass employeeId. The rows ask for the
// mapping's loan officer access, which the generated users lack: every row
// is adoptable, with differences.
func SimUsers(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("employeeId,givenName,familyName,email,jobTitle,jobCode,department,status\r\n")
	width := max(6, len(strconv.Itoa(n)))
	for i := 1; i <= n; i++ {
		num := fmt.Sprintf("%0*d", width, i)
		fmt.Fprintf(bw, "S%s,Sim,User%s,simuser%s@example.com,Loan Officer,LO1,Retail Lending,active\r\n", num, num, num)
	}
	return bw.Flush()
}

// NewHires writes a CSV roster of n active employees no Encompass account
// matches (all missing), about 255 bytes a row: 200,000 rows make a 50 MB
// file. A notes column the contract does not know pads the rows.
func NewHires(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("employeeId,givenName,familyName,email,workPhone,jobTitle,jobCode,department,location,nmlsId,status,notes\r\n")
	notes := strings.Repeat("x", 110)
	for i := range n {
		fmt.Fprintf(bw, "N%07d,Firstname%07d,Lastname%07d,first.last%07d@lender.example,(555) 201-%04d,Loan Officer,LO2,Retail Lending,Branch %d,%d,active,%s\r\n",
			i, i, i, i, i%10000, i%100, 1000000+i, notes)
	}
	return bw.Flush()
}
