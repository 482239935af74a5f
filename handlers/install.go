package handlers

import (
	"encoding/json"
	"sync"

	"github.com/gofiber/fiber/v2"

	"messenger/static"
)

// webManifest makes Messenger installable (added to a phone's home screen, opened in its own window).
// Its icon URLs carry content hashes, so it is built from the embedded files once.
var webManifest = sync.OnceValue(func() []byte {
	type icon struct {
		Src     string `json:"src"`
		Sizes   string `json:"sizes"`
		Type    string `json:"type"`
		Purpose string `json:"purpose"`
	}
	b, err := json.Marshal(struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		ShortName       string `json:"short_name"`
		Description     string `json:"description"`
		StartURL        string `json:"start_url"`
		Scope           string `json:"scope"`
		Display         string `json:"display"`
		BackgroundColor string `json:"background_color"`
		ThemeColor      string `json:"theme_color"`
		Icons           []icon `json:"icons"`
	}{
		ID: "/", Name: "Messenger", ShortName: "Messenger", Description: "Chat one to one, live.",
		StartURL: "/", Scope: "/", Display: "standalone", BackgroundColor: "#f9fafb", ThemeColor: "#1b5ff5",
		Icons: []icon{
			{Src: static.URL("icons/icon-192.png"), Sizes: "192x192", Type: "image/png", Purpose: "any"},
			{Src: static.URL("icons/icon-512.png"), Sizes: "512x512", Type: "image/png", Purpose: "any"},
			{Src: static.URL("icons/maskable-192.png"), Sizes: "192x192", Type: "image/png", Purpose: "maskable"},
			{Src: static.URL("icons/maskable-512.png"), Sizes: "512x512", Type: "image/png", Purpose: "maskable"},
		},
	})
	if err != nil {
		panic(err) // a fixed struct of strings always marshals
	}
	return b
})

func (s *Server) manifest(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/manifest+json; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(webManifest())
}

// favicon answers browsers that ask for /favicon.ico whatever the page's <link rel="icon"> says.
func (s *Server) favicon(c *fiber.Ctx) error {
	b, err := static.Files.ReadFile("favicon.ico")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/x-icon")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(b)
}
