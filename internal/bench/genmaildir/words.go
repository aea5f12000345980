package main

import "strings"

// vocabulary is ordered roughly by how common each word is in business
// mail, so a skewed index pick gives Zipf-like frequencies: gzip then sees
// text about as compressible as real correspondence, not a repeated line.
var vocabulary = strings.Fields(`
the to and of a in for is that on we you it with this be are as have will
at not by or from our your can if all please an would but so they about
has more was there which their one any also do been when what out up let
know time new us need team just some these other like should could get
week next meeting thanks update project today could may review see here
make work into per only over after its them than then well first still
good back two last same how want sure take most both each plan before
look because around did those between through while much were own best
where even such since again day use under call made many current during
without three process issue report data change question further later
follow already note attached send share discuss working going help fine
agree sounds great idea different support customer client release version
document draft final budget quarter numbers sales contract order invoice
payment account access server system service deploy build test results
problem error fix feature request ticket schedule deadline friday monday
tuesday wednesday thursday morning afternoon evening tomorrow yesterday
office remote travel flight hotel conference agenda notes minutes summary
proposal approval decision feedback comments changes priority status
progress milestone launch product design marketing finance legal policy
training workshop event dinner lunch coffee weekend holiday vacation
family house car garden weather rain summer winter spring autumn city
train station airport ticket booking price cost offer discount delivery
shipping package address phone number email message reply forward list
group board committee member manager director engineer developer analyst
partner vendor supplier team lead colleague everyone anyone someone
nothing something everything always never often usually sometimes soon
early late quick small large long short high low full empty open closed
clear simple complex important urgent possible available ready done
complete pending missing wrong right correct likely maybe perhaps indeed
however therefore although unless whether though instead otherwise
meanwhile finally basically actually probably certainly quite rather
really very too enough almost already yet once twice several few little
less least more most every another either neither both whole half part
point case fact reason result example way kind sort type form level area
side end start middle top bottom front line page section chapter table
figure chart graph file folder drive link site page login password user
network database backup storage memory disk cloud migration mailbox
calendar contact invitation reminder notice alert warning confirmation
receipt statement balance transfer bank card credit debit tax return
application interview candidate offer salary benefits contract start
date month year hour minute moment period phase stage step task item
goal target metric growth revenue profit loss risk impact scope effort
estimate timeline resource capacity budget approve reject confirm cancel
check verify validate prepare organize arrange handle manage coordinate
include exclude mention consider suggest recommend propose expect hope
think believe understand remember forget learn teach explain describe
show tell ask answer write read print sign scan upload download install
configure restart migrate export import sync move copy delete archive
keep hold leave stay come go bring give put set run turn try seem feel
become provide create receive improve reduce increase continue finish
begin happen appear remain allow require include involve consider mean
`)

// firstNames and lastNames make display names; some need RFC 2047 encoding,
// as many real From headers do.
var firstNames = strings.Fields(`Anna Ben Carla David Emma Felix Greta Hugo Ines Jonas Karin Lukas Maria
Noah Olga Paul Rosa Sam Tina Uwe Vera Walter Yusuf Zoe Jürgen Zoë José Søren Łukasz Chloé`)

var lastNames = strings.Fields(`Smith Miller Schmidt Garcia Rossi Novak Jensen Dubois Kowalski Silva
Brown Wilson Fischer Weber Moreau Costa Larsen Meyer Taylor Clark Müller Åström Gómez Ferrández`)

var domains = strings.Fields(`example.com example.org example.net acme-corp.example
partner.example lists.example.org billing.example.com shop.example.net
univ.example.edu travel.example.com`)

// subjectWords are capitalised into subject lines; a few are non-ASCII so
// some subjects are RFC 2047 encoded words.
var subjectExtras = strings.Fields(`Grüße Überweisung Ärger Zürich café São Málaga naïve Besprechung`)

var mailers = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
	"Microsoft Outlook 16.0",
	"Apple Mail (2.3731.700.6)",
	"Roundcube Webmail/1.6.5",
	"K-9 Mail for Android",
}

var zones = []string{"+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900"}
